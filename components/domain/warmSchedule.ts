/**
 * Warm-capacity schedules: KEDA `cron` trigger metadata, checked as KEDA v2.20.2 parses it, and the hours a week a
 * schedule keeps capacity up (what it costs).
 *
 * KEDA v2.20.2 `pkg/scalers/cron_scaler.go`:
 * - `start` and `end` are 5-field cron expressions (robfig/cron `Minute | Hour | Dom | Month | Dow`: no seconds, no
 *   `@every`/`@daily` descriptors); equal `start` and `end` are refused; `desiredReplicas` must be non-zero;
 * - `timezone` goes to Go's `time.LoadLocation` on every check, and a failure is a scaler error, which keeps the
 *   ScaledObject from scaling to zero (executor `RequestScale`, `isError`): so an unknown zone is refused here;
 * - active iff the next `start` comes after the next `end` (inside the window); the metric is `desiredReplicas`
 *   inside the window and 0 outside (0 since v2.18.0, kedacore/keda#6888; it was 1 before).
 */

export interface WarmSchedule {
    /** IANA time zone, e.g. `Europe/Berlin`. */
    timezone: string;
    /** Cron expression (5 fields) at which warm capacity comes up, e.g. `0 8 * * 1-5`. */
    start: string;
    /** Cron expression at which it goes, e.g. `0 18 * * 1-5`. */
    end: string;
    /** Replicas (or nodes) kept while inside the window; at least 1. */
    desiredReplicas: number;
}

const FIELDS = [
    { name: "minute", min: 0, max: 59 },
    { name: "hour", min: 0, max: 23 },
    { name: "day of month", min: 1, max: 31 },
    { name: "month", min: 1, max: 12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] },
    { name: "day of week", min: 0, max: 6, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
] as const;

/** The values a cron expression's fields match, or a one-line problem. */
export function parseCron(expression: string): { sets: Set<number>[] } | { problem: string } {
    const parts = expression.trim().split(/\s+/);
    if (parts.length !== 5) return { problem: `"${expression}" has ${parts.length} fields; KEDA's cron takes 5 (minute hour day-of-month month day-of-week)` };
    const sets: Set<number>[] = [];
    for (const [i, part] of parts.entries()) {
        const field = FIELDS[i];
        const names: readonly string[] = "names" in field ? field.names : [];
        const value = (s: string): number => {
            const named = names.indexOf(s.toUpperCase());
            if (named >= 0) return named + (field.min === 1 ? 1 : 0);
            return /^\d+$/.test(s) ? Number(s) : NaN;
        };
        const set = new Set<number>();
        for (const item of part.split(",")) {
            const m = /^(\*|\?|[^-/]+)(?:-([^/]+))?(?:\/(\d+))?$/.exec(item);
            const wildcard = m?.[1] === "*" || (m?.[1] === "?" && i >= 2 && i !== 3);
            const lo = m ? (wildcard ? field.min : value(m[1])) : NaN;
            const hi = m ? (m[2] !== undefined ? value(m[2]) : wildcard || m[3] !== undefined ? field.max : lo) : NaN;
            const step = m?.[3] !== undefined ? Number(m[3]) : 1;
            if (!m || Number.isNaN(lo) || Number.isNaN(hi) || lo < field.min || hi > field.max || lo > hi || step < 1) {
                return { problem: `"${expression}": ${field.name} "${item}" is not a value, range or step within ${field.min}-${field.max}` };
            }
            for (let v = lo; v <= hi; v += step) set.add(v);
        }
        sets.push(set);
    }
    return { sets };
}

/** Whether Go's `time.LoadLocation` would know the zone (Node's ICU holds the same IANA database). */
function isTimeZone(zone: string): boolean {
    if (zone === "" || zone === "Local") return false;
    try {
        new Intl.DateTimeFormat("en-US", { timeZone: zone });
        return true;
    } catch {
        return false;
    }
}

/** A problem with one field of a schedule: which field, and what is wrong with it (one line, no key path). */
export interface WarmScheduleIssue {
    field: keyof WarmSchedule;
    message: string;
}

/** The problems with `schedule`, each at the field it names; empty when KEDA will accept it. */
export function warmScheduleIssues(schedule: WarmSchedule): WarmScheduleIssue[] {
    const issues: WarmScheduleIssue[] = [];
    if (!isTimeZone(schedule.timezone)) issues.push({ field: "timezone", message: `"${schedule.timezone}" is not an IANA time zone such as Europe/Berlin` });
    for (const key of ["start", "end"] as const) {
        const parsed = parseCron(schedule[key]);
        if ("problem" in parsed) issues.push({ field: key, message: parsed.problem });
    }
    if (schedule.start.trim() === schedule.end.trim()) issues.push({ field: "end", message: "must differ from start (KEDA refuses equal start and end)" });
    if (!Number.isInteger(schedule.desiredReplicas) || schedule.desiredReplicas < 1) {
        issues.push({ field: "desiredReplicas", message: `must be a whole number of at least 1, not ${schedule.desiredReplicas}` });
    }
    return issues;
}

/** One line per problem with `schedule`, `<path>.<field>: <what is wrong>`; empty when KEDA will accept it. */
export function warmScheduleProblems(schedule: WarmSchedule, path: string): string[] {
    return warmScheduleIssues(schedule).map((i) => `${path}.${i.field}: ${i.message}`);
}

/** The KEDA trigger for `schedule` (throws on the first problem). */
export function cronTrigger(schedule: WarmSchedule, name: string) {
    const problems = warmScheduleProblems(schedule, name);
    if (problems.length > 0) throw new Error(problems[0]);
    return {
        type: "cron" as const,
        name,
        metadata: {
            timezone: schedule.timezone,
            start: schedule.start,
            end: schedule.end,
            desiredReplicas: String(schedule.desiredReplicas),
        },
    };
}

function matches(sets: Set<number>[], t: Date): boolean {
    // Days of month and week: robfig/cron ORs them when both are restricted, as classic cron does.
    const [minute, hour, dom, month, dow] = sets;
    const domAll = dom.size === 31;
    const dowAll = dow.size === 7;
    const day = domAll || dowAll ? dom.has(t.getUTCDate()) && dow.has(t.getUTCDay()) : dom.has(t.getUTCDate()) || dow.has(t.getUTCDay());
    return minute.has(t.getUTCMinutes()) && hour.has(t.getUTCHours()) && month.has(t.getUTCMonth() + 1) && day;
}

/**
 * Hours per week the schedule keeps capacity up, in wall-clock time of its own zone (daylight-saving shifts ignored):
 * the window opens at each `start` match and closes at the next `end` match. Counted over the second of two
 * simulated weeks from a Monday, so a window that opens in the week before is counted.
 */
export function warmHoursPerWeek(schedule: Pick<WarmSchedule, "start" | "end">): number {
    const start = parseCron(schedule.start);
    const end = parseCron(schedule.end);
    if ("problem" in start) throw new Error(start.problem);
    if ("problem" in end) throw new Error(end.problem);
    const monday = Date.UTC(2024, 0, 1); // a Monday, no leap day in the two weeks
    const week = 7 * 24 * 60;
    let active = false;
    let minutes = 0;
    for (let i = 0; i < 2 * week; i++) {
        const t = new Date(monday + i * 60_000);
        if (matches(start.sets, t)) active = true;
        if (matches(end.sets, t)) active = false;
        if (i >= week && active) minutes++;
    }
    return minutes / 60;
}
