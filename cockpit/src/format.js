// Pure formatting of the values corrald publishes (no DOM, no D-Bus).

export function formatBytes(bytes) {
    if (!bytes) return "—";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = Number(bytes);
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit += 1;
    }
    return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatUptime(usec) {
    if (!usec) return "—";
    let s = Math.floor(Number(usec) / 1e6);
    const d = Math.floor(s / 86400);
    s %= 86400;
    const h = Math.floor(s / 3600);
    s %= 3600;
    const m = Math.floor(s / 60);
    s %= 60;
    if (d) return `${d}d ${h}h ${m}m`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
}

// CPU use in percent of one host CPU between two Stats samples (null when unknown).
export function cpuPercent(previous, current) {
    if (!previous || !current) return null;
    const wall = Number(current.SampledAt) - Number(previous.SampledAt);
    const cpu = Number(current.CpuUsec) - Number(previous.CpuUsec);
    if (wall <= 0 || cpu < 0) return null;
    return (100 * cpu) / wall;
}

export function formatPercent(p) {
    return p === null || p === undefined ? "—" : `${p.toFixed(1)} %`;
}
