/** Special tokens every PUMA tokenizer carries, in this order, before the position tokens. */
export const BOS = '<s>';
export const EOS = '</s>';
export const IMG_START = '[IMG]';
export const IMG_END = '[/IMG]';
export const PAD = '<pad>';
export const SPECIAL_TOKENS = [BOS, EOS, IMG_START, IMG_END, PAD] as const;

/** Grounding vocabulary (paper 3.3): 224 position tokens <pos_0> .. <pos_223>. */
export const NUM_POS_TOKENS = 224;
export const posToken = (i: number): string => `<pos_${i}>`;
export const POS_TOKENS: readonly string[] = Array.from({ length: NUM_POS_TOKENS }, (_, i) => posToken(i));

/**
 * An inclusive pixel box [x0, y0, x1, y1] on a width x height image, as four position tokens:
 * the start edge floor(x0 * 224 / W), the end edge floor((x1 + 1) * 224 / W) - 1, so the full
 * image is <pos_0><pos_0><pos_223><pos_223>.
 * @example boxToPosTokens([16, 16, 47, 47], 64, 64) // '<pos_56><pos_56><pos_167><pos_167>'
 */
export function boxToPosTokens(box: readonly [number, number, number, number], width: number, height: number): string {
  const [x0, y0, x1, y1] = box;
  const start = (v: number, side: number) => Math.min(NUM_POS_TOKENS - 1, Math.floor((v * NUM_POS_TOKENS) / side));
  const end = (v: number, side: number) => Math.max(0, Math.floor(((v + 1) * NUM_POS_TOKENS) / side) - 1);
  return [start(x0, width), start(y0, height), end(x1, width), end(y1, height)].map(posToken).join('');
}

/** The inverse, to pixels: [x0, y0, x1, y1] inclusive, or null when the text holds no 4 tokens. */
export function posTokensToBox(text: string, width: number, height: number): [number, number, number, number] | null {
  const m = [...text.matchAll(/<pos_(\d+)>/g)].map((x) => Number(x[1]));
  if (m.length < 4 || m.slice(0, 4).some((v) => v >= NUM_POS_TOKENS)) return null;
  // The pixel under each token's centre: exact for images of at most 224 px a side.
  const px = (t: number, side: number) => Math.floor(((t + 0.5) * side) / NUM_POS_TOKENS);
  return [px(m[0], width), px(m[1], height), px(m[2], width), px(m[3], height)];
}
