// @ts-nocheck
import { SharedBus } from "../mod.ts";
console.log(typeof SharedBus);
