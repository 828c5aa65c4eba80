// The compose plan for assembling multipart parts on GCS (spec/storage.md §5.2). One compose call
// takes at most 32 sources, so more parts are composed in rounds ("generations"): each round
// composes consecutive batches of 32 into intermediates named
// `{destination}.__compose_tmp_{generation}_{batchStartIndex}` (a batch of one source passes
// through unchanged), until at most 32 remain for the final compose into the destination.
// Pure: the backend executes the plan, tests check it.

export const MAX_COMPOSE_SOURCES = 32;

export interface ComposeStep {
  /** Steps of one round are independent; a round starts only after the previous one finished. */
  round: number;
  destination: string;
  /** In concatenation order. A single source is a plain copy. */
  sources: string[];
}

export interface ComposePlan {
  steps: ComposeStep[];
  /** Objects the plan creates besides the destination, to delete once it is done (or failed). */
  intermediates: string[];
}

export function planCompose(sources: readonly string[], destination: string): ComposePlan {
  if (sources.length === 0) throw new RangeError('compose needs at least one source');
  const steps: ComposeStep[] = [];
  const intermediates: string[] = [];
  let current = [...sources];
  let generation = 0;
  while (current.length > MAX_COMPOSE_SOURCES) {
    const next: string[] = [];
    for (let start = 0; start < current.length; start += MAX_COMPOSE_SOURCES) {
      const batch = current.slice(start, start + MAX_COMPOSE_SOURCES);
      if (batch.length === 1) {
        next.push(...batch);
        continue;
      }
      const intermediate = `${destination}.__compose_tmp_${generation}_${start}`;
      steps.push({ round: generation, destination: intermediate, sources: batch });
      intermediates.push(intermediate);
      next.push(intermediate);
    }
    current = next;
    generation++;
  }
  steps.push({ round: generation, destination, sources: current });
  return { steps, intermediates };
}

/** The steps grouped by round, in execution order. */
export function roundsOf(plan: ComposePlan): ComposeStep[][] {
  const rounds: ComposeStep[][] = [];
  for (const step of plan.steps) (rounds[step.round] ??= []).push(step);
  return rounds;
}
