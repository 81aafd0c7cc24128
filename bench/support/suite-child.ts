// Owns the child side of an in-process suite: import the suite, measure the variants asked for, report the figures.

import { reportResult } from './children.js';
import type { Variant } from './measurement.js';
import { measureInterleaved, type Suite, type SuiteOptions } from './suite.js';

const [suiteUrl, variantList, optionsJson] = process.argv.slice(2);
if (suiteUrl === undefined || variantList === undefined || optionsJson === undefined) {
  throw new Error('usage: suite-child.ts <suite file URL> <variant,variant...> <options JSON>');
}
const module = (await import(suiteUrl)) as { suite: Suite };
const variants = variantList.split(',') as Variant[];
reportResult(await measureInterleaved(module.suite, variants, JSON.parse(optionsJson) as SuiteOptions));
