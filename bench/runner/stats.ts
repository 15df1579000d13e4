/** Small helpers shared by the runner bench's parts. */
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
export const peakRssMb = () => round(process.resourceUsage().maxRSS / 1024, 0);
