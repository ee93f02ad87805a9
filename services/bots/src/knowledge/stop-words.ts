/**
 * English function words that carry no topic: dropping them keeps "how do I ..." from matching every
 * passage that happens to say "how". Question words are here too; negations and "human" are not.
 */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  `a about above after again against all also am an and any are as at be because been before being below
  between both but by can could did do does doing done down during each either else ever every few for from
  further get gets getting got had has have having he her here hers herself him himself his how i if in into
  is it its itself just let lets me might more most must my myself of off on once only or other ought our ours
  ourselves out over own please same shall she should so some such than that the their theirs them themselves
  then there these they this those through thus to too under until up upon us very want wants was we were what
  when where which while who whom whose why will with within would yes yet you your yours yourself yourselves
  hi hello hey thanks thank ok okay tell know need like one way now many much long still even maybe sure really
  real actually anything something thing things lot bit kind sort`
    .split(/\s+/)
    .filter(Boolean),
);
