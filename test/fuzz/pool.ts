/** Runs fuzz cases a few at a time against one server, tracking this process's peak RSS. */
export async function runCases<C>(
  cases: C[],
  concurrency: number,
  run: (c: C, index: number) => Promise<void>,
): Promise<{ rssStart: number; rssPeak: number }> {
  const rssStart = process.memoryUsage().rss;
  let rssPeak = rssStart;
  let next = 0;
  async function lane(): Promise<void> {
    while (next < cases.length) {
      const index = next++;
      await run(cases[index]!, index);
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { rssStart, rssPeak };
}
