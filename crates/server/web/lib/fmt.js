// Numbers as the page shows them. Pure functions (unit-tested with node --test).

/** Bytes in decimal units, as `hearth list` prints them: "138 MB", "1.3 GB". */
export function bytes(n) {
  if (n == null || !Number.isFinite(n)) return '?';
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)} GB`;
  if (n >= 1e6) return `${Math.round(n / 1e6)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} kB`;
  return `${n} B`;
}

/** A count with thousands separators: 12345 -> "12,345". */
export function count(n) {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Tokens per second: one decimal below 10, as `hearth fit` prints them. */
export function tokS(t) {
  if (t == null || !Number.isFinite(t) || t <= 0) return null;
  return t < 10 ? `${t.toFixed(1)} tok/s` : `${Math.round(t)} tok/s`;
}

/** `hearth fit`'s verdict ("fits", "tight", "does not fit") as the page says it. */
export function verdictLabel(v) {
  switch (v) {
    case 'fits': return 'fits';
    case 'tight': return 'tight';
    case 'does not fit': return 'will not fit';
    default: return 'fit unknown';
  }
}

/** One line for a model in the picker: name, size, verdict, predicted speed. */
export function modelLine(m) {
  const parts = [m.name, bytes(m.size ?? m.file_bytes)];
  if (m.error) {
    parts.push('unreadable');
  } else if (m.supported === false) {
    parts.push('architecture not supported yet');
  } else {
    parts.push(verdictLabel(m.verdict));
    const t = tokS(m.predicted_tok_per_s);
    if (t) parts.push(`~${t}`);
  }
  return parts.join(' · ');
}

/**
 * Tokens/s of an answer: tokens after the first over the time since it came
 * (none when they all came at once: a finished answer sent whole).
 */
export function answerSpeed(tokens, firstAt, endAt) {
  if (!(tokens > 1) || !(endAt - firstAt >= 50)) return null;
  return (tokens - 1) / ((endAt - firstAt) / 1000);
}

/** A short relative date for the conversation list. */
export function when(ms, now = Date.now()) {
  const d = new Date(ms);
  const n = new Date(now);
  if (d.toDateString() === n.toDateString()) {
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  return d.toLocaleDateString([], { month: 'short', day: 'numeric' });
}
