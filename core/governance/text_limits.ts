/**
 * Limits on a proposal's text (issue: governance): title ≤ 200 characters, body ≤ 16 KiB, a
 * ballot's reason ≤ 1000 characters. A federation's proposals use the same limits. In a module
 * of their own, importing nothing, so the command tree declares its options with them without
 * loading the governance rules.
 */
export const titleLengthMax = 200;
export const bodyBytesMax = 16 * 1024;
export const reasonLengthMax = 1000;
