import { trainBpeMerges } from "@troupe/shared/tokenizer/train-merges";

/**
 * A small English corpus for the tiny bundle's own BPE merges: the words prompts in tests and
 * examples use (subjects, places, poses), so they tokenize into few tokens. Not CLIP's vocabulary.
 */
const CORPUS_WORDS = `
a an the and or of in on at to with without by for from into over under near behind beside between
is are was were be being been has have had do does did not no yes this that these those there here
man woman men women person people boy girl child children baby kid friend friends couple family
dog dogs cat cats puppy kitten horse bird birds fish cow sheep rabbit bear lion tiger elephant
park beach city street road forest mountain mountains lake river sea ocean garden field house room
kitchen office school library cafe restaurant shop market station train bus car bike boat plane
sitting standing walking running jumping playing eating drinking reading writing smiling laughing
holding wearing looking talking dancing singing swimming riding sleeping waiting working cooking
photo picture portrait painting drawing image style realistic detailed high quality best art artwork
red orange yellow green blue purple pink brown black white gray grey gold silver colorful bright dark
sun sunny sunset sunrise night day morning evening rain rainy snow snowy cloud cloudy sky light shadow
big small tall short old young new happy sad beautiful pretty handsome cute funny serious calm
hat shirt dress jacket coat glasses shoes bag scarf suit uniform hair face eyes hands smile
table chair bench sofa bed window door wall floor tree trees flower flowers grass leaves rock sand
together alone next front back top bottom left right side middle center close far inside outside
one two three four five many some each every other another first second last best good great
cinematic lighting studio closeup close up view shot camera lens film wide angle background foreground
`;

/** Subject and scene words of the example prompts (and `img`), weighted up so each becomes a single token. */
const FREQUENT = "img man woman dog cat person boy girl child park beach city photo sitting standing";

/** The training text: every corpus word once, the frequent ones eight times more. */
export function tinyCorpus(): string {
  return [CORPUS_WORDS, ...Array.from({ length: 8 }, () => FREQUENT)].join(" ").split(/\s+/).filter(Boolean).join(" ");
}

/** The tiny bundle's merges file text: the CLIP header line, then one merge per line. */
export function tinyMergesText(numMerges: number): { text: string; merges: number } {
  const merges = trainBpeMerges(tinyCorpus(), numMerges);
  return { text: `#version: 0.2\n${merges.join("\n")}\n`, merges: merges.length };
}
