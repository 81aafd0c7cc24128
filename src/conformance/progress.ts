// Owns the estimate of a run's time left: per group of cases (the concurrent ones, then each category of
// heavy ones run alone), what is left times what a case of that group has cost so far.

/** One group of cases: how many are done and left, and the wall-clock time its done ones took. */
export interface GroupProgress {
  readonly completed: number;
  readonly remaining: number;
  readonly spentMilliseconds: number;
}

/** The time a run still needs; `isLowerBound` when a group with cases left has no timing yet. */
export interface TimeLeft {
  readonly milliseconds: number;
  readonly isLowerBound: boolean;
}

/**
 * Sums, over the groups, the cases left times the mean cost of one done case of the same group. A group
 * with none done yet borrows the mean of the other groups that have timings, and makes the estimate a
 * lower bound (heavy categories differ: 9.x sizes, 12.x/13.x compression); with no timing at all it is
 * undefined.
 */
export function estimateTimeLeft(groups: readonly GroupProgress[]): TimeLeft | undefined {
  const timed = groups.filter((group) => group.completed > 0);
  if (timed.length === 0) return undefined;
  const borrowed =
    timed.reduce((sum, group) => sum + group.spentMilliseconds / group.completed, 0) / timed.length;
  let milliseconds = 0;
  let isLowerBound = false;
  for (const group of groups) {
    if (group.remaining === 0) continue;
    if (group.completed > 0) {
      milliseconds += (group.remaining * group.spentMilliseconds) / group.completed;
    } else {
      milliseconds += group.remaining * borrowed;
      isLowerBound = true;
    }
  }
  return { milliseconds, isLowerBound };
}

/** `2 min 05 s`, `45 s`, `1 h 03 min`: what a person reads at a glance. */
export function formatDuration(milliseconds: number): string {
  const seconds = Math.max(0, Math.round(milliseconds / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** `about 2 min 05 s left`, or `at least …` for a lower bound, or `` before any timing. */
export function formatTimeLeft(timeLeft: TimeLeft | undefined): string {
  if (timeLeft === undefined) return '';
  if (timeLeft.milliseconds < 1000 && !timeLeft.isLowerBound) return 'under a second left';
  return `${timeLeft.isLowerBound ? 'at least' : 'about'} ${formatDuration(timeLeft.milliseconds)} left`;
}
