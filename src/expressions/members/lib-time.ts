// DateTime, DateTimeOffset, TimeSpan.
import { CsException } from '../errors.js';
import { T, csCompare } from '../types.js';
import { define } from './registry.js';
import { m, p, needStr } from './lib-core.js';
import {
  CsDateTime, CsDateTimeOffset, CsTimeSpan, DAY_NAMES, MAX_MS, MIN_MS, daysInMonth, formatDateTime, formatDateTimeOffset,
  formatTimeSpan, isLeap, parseDateTime, parseDateTimeOffset, parseExactDateTime, parseTimeSpan, type DateTimeKind,
} from '../runtime/time.js';
import { CsEnum, OutBox } from '../runtime/values.js';

const DT = T.DateTime;
const DTO = T.DateTimeOffset;
const TS = T.TimeSpan;

const MS = { day: 86_400_000, hour: 3_600_000, minute: 60_000, second: 1000 };

function kindOf(v: unknown): DateTimeKind {
  if (v instanceof CsEnum && v.type === 'DateTimeKind') return (['Unspecified', 'Utc', 'Local'] as const)[v.value] ?? 'Unspecified';
  return 'Unspecified';
}

function dayOfWeek(n: number): CsEnum {
  return new CsEnum('DayOfWeek', DAY_NAMES[n] as string, n);
}

function isInvariant(v: unknown): boolean {
  return v instanceof CsEnum && v.type === 'CultureInfo' && v.value === 0;
}

define('DateTime', {
  props: {
    Year: p(T.int, (d: CsDateTime) => d.year),
    Month: p(T.int, (d: CsDateTime) => d.month),
    Day: p(T.int, (d: CsDateTime) => d.day),
    Hour: p(T.int, (d: CsDateTime) => d.hour),
    Minute: p(T.int, (d: CsDateTime) => d.minute),
    Second: p(T.int, (d: CsDateTime) => d.second),
    Millisecond: p(T.int, (d: CsDateTime) => d.millisecond),
    DayOfWeek: p({ n: 'DayOfWeek' }, (d: CsDateTime) => dayOfWeek(d.dayOfWeek)),
    DayOfYear: p(T.int, (d: CsDateTime) => d.dayOfYear),
    Date: p(DT, (d: CsDateTime) => d.date),
    TimeOfDay: p(TS, (d: CsDateTime) => d.timeOfDay),
    Ticks: p(T.long, (d: CsDateTime) => d.ticks),
    Kind: p({ n: 'DateTimeKind' }, (d: CsDateTime) => new CsEnum('DateTimeKind', d.kind, ['Unspecified', 'Utc', 'Local'].indexOf(d.kind))),
  },
  methods: {
    AddYears: m(DT, (d: CsDateTime, a) => d.addMonths((a[0] as number) * 12), { min: 1, max: 1 }),
    AddMonths: m(DT, (d: CsDateTime, a) => d.addMonths(a[0] as number), { min: 1, max: 1 }),
    AddDays: m(DT, (d: CsDateTime, a) => d.addMs((a[0] as number) * MS.day), { min: 1, max: 1 }),
    AddHours: m(DT, (d: CsDateTime, a) => d.addMs((a[0] as number) * MS.hour), { min: 1, max: 1 }),
    AddMinutes: m(DT, (d: CsDateTime, a) => d.addMs((a[0] as number) * MS.minute), { min: 1, max: 1 }),
    AddSeconds: m(DT, (d: CsDateTime, a) => d.addMs(Number(a[0]) * MS.second), { min: 1, max: 1 }),
    AddMilliseconds: m(DT, (d: CsDateTime, a) => d.addMs(a[0] as number), { min: 1, max: 1 }),
    AddTicks: m(DT, (d: CsDateTime, a) => d.addMs((a[0] as number) / 10_000), { min: 1, max: 1 }),
    Add: m(DT, (d: CsDateTime, a) => d.addMs((a[0] as CsTimeSpan).ms), { min: 1, max: 1 }),
    Subtract: m((_s, a) => (a[0] && a[0].n === 'DateTime' ? TS : DT), (d: CsDateTime, a) => {
      const o = a[0];
      if (o instanceof CsDateTime) return new CsTimeSpan(d.ms - o.ms);
      return d.addMs(-(o as CsTimeSpan).ms);
    }, { min: 1, max: 1 }),
    ToString: m(T.string, (d: CsDateTime, a) => {
      const fmt = typeof a[0] === 'string' ? a[0] : null;
      if (fmt === null && a.some(isInvariant)) return formatDateTime(d, 'MM/dd/yyyy HH:mm:ss');
      return formatDateTime(d, fmt);
    }, { max: 2 }),
    ToUniversalTime: m(DT, (d: CsDateTime) => d.withKind('Utc'), { max: 0 }),
    ToLocalTime: m(DT, (d: CsDateTime) => d.withKind('Local'), { max: 0 }),
    ToShortDateString: m(T.string, (d: CsDateTime) => formatDateTime(d, 'd'), { max: 0 }),
    ToLongDateString: m(T.string, (d: CsDateTime) => formatDateTime(d, 'D'), { max: 0 }),
    ToShortTimeString: m(T.string, (d: CsDateTime) => formatDateTime(d, 't'), { max: 0 }),
    ToLongTimeString: m(T.string, (d: CsDateTime) => formatDateTime(d, 'T'), { max: 0 }),
    ToFileTimeUtc: m(T.long, (d: CsDateTime) => (d.ms + 11_644_473_600_000) * 10_000, { max: 0 }),
    CompareTo: m(T.int, (d: CsDateTime, a) => csCompare(d, a[0]), { min: 1, max: 1 }),
    Equals: m(T.bool, (d: CsDateTime, a) => a[0] instanceof CsDateTime && a[0].ms === d.ms, { min: 1, max: 1 }),
  },
  sprops: {
    UtcNow: p(DT, () => CsDateTime.now('Utc')),
    Now: p(DT, () => CsDateTime.now('Local')),
    Today: p(DT, () => CsDateTime.now('Local').date),
    MinValue: p(DT, () => new CsDateTime(MIN_MS, 'Unspecified')),
    MaxValue: p(DT, () => new CsDateTime(MAX_MS + 0.9999, 'Unspecified')),
    UnixEpoch: p(DT, () => new CsDateTime(0, 'Utc')),
  },
  smethods: {
    Parse: m(DT, (_s, a) => parseDateTime(needStr(a[0], 's')), { min: 1, max: 3 }),
    TryParse: m(T.bool, (_s, a) => {
      const box = a[a.length - 1] as OutBox;
      try {
        box.value = parseDateTime(needStr(a[0], 's'));
        return true;
      } catch {
        box.value = new CsDateTime(MIN_MS);
        return false;
      }
    }, { min: 2, max: 4, out: (_s, i, _a, _g, n) => (i === n - 1 ? DT : null) }),
    ParseExact: m(DT, (_s, a) => {
      const fmts = Array.isArray(a[1]) ? (a[1] as string[]) : [needStr(a[1], 'format')];
      let lastErr: unknown;
      for (const f of fmts) {
        try {
          return parseExactDateTime(needStr(a[0], 's'), f);
        } catch (e) {
          lastErr = e;
        }
      }
      throw lastErr;
    }, { min: 2, max: 4 }),
    TryParseExact: m(T.bool, (_s, a) => {
      const box = a[a.length - 1] as OutBox;
      try {
        box.value = parseExactDateTime(needStr(a[0], 's'), needStr(a[1], 'format'));
        return true;
      } catch {
        box.value = new CsDateTime(MIN_MS);
        return false;
      }
    }, { min: 3, max: 5, out: (_s, i, _a, _g, n) => (i === n - 1 ? DT : null) }),
    SpecifyKind: m(DT, (_s, a) => (a[0] as CsDateTime).withKind(kindOf(a[1])), { min: 2, max: 2 }),
    DaysInMonth: m(T.int, (_s, a) => daysInMonth(a[0] as number, a[1] as number), { min: 2, max: 2 }),
    IsLeapYear: m(T.bool, (_s, a) => isLeap(a[0] as number), { min: 1, max: 1 }),
    FromFileTimeUtc: m(DT, (_s, a) => new CsDateTime((a[0] as number) / 10_000 - 11_644_473_600_000, 'Utc'), { min: 1, max: 1 }),
    Compare: m(T.int, (_s, a) => csCompare(a[0], a[1]), { min: 2, max: 2 }),
  },
  ctor: {
    call(a) {
      const last = a[a.length - 1];
      const kind = kindOf(last);
      const nums = a.filter((x) => typeof x === 'number') as number[];
      if (nums.length === 1) return CsDateTime.fromTicks(nums[0] as number, kind);
      if (nums.length === 3 || nums.length === 6 || nums.length === 7) {
        const [y, mo, d, h = 0, mi = 0, s = 0, ms = 0] = nums;
        return CsDateTime.fromParts(y as number, mo as number, d as number, h, mi, s, ms, kind);
      }
      throw new CsException('ArgumentException', 'Unsupported DateTime constructor arguments.');
    },
    min: 1,
    max: 8,
  },
});

define('DateTimeOffset', {
  props: {
    UtcDateTime: p(DT, (d: CsDateTimeOffset) => d.utcDateTime),
    DateTime: p(DT, (d: CsDateTimeOffset) => d.dateTime),
    LocalDateTime: p(DT, (d: CsDateTimeOffset) => new CsDateTime(d.utcMs, 'Local')),
    Offset: p(TS, (d: CsDateTimeOffset) => d.offset),
    Year: p(T.int, (d: CsDateTimeOffset) => d.dateTime.year),
    Month: p(T.int, (d: CsDateTimeOffset) => d.dateTime.month),
    Day: p(T.int, (d: CsDateTimeOffset) => d.dateTime.day),
    Hour: p(T.int, (d: CsDateTimeOffset) => d.dateTime.hour),
    Minute: p(T.int, (d: CsDateTimeOffset) => d.dateTime.minute),
    Second: p(T.int, (d: CsDateTimeOffset) => d.dateTime.second),
    Millisecond: p(T.int, (d: CsDateTimeOffset) => d.dateTime.millisecond),
    DayOfWeek: p({ n: 'DayOfWeek' }, (d: CsDateTimeOffset) => dayOfWeek(d.dateTime.dayOfWeek)),
    Date: p(DT, (d: CsDateTimeOffset) => d.dateTime.date),
    Ticks: p(T.long, (d: CsDateTimeOffset) => d.dateTime.ticks),
    UtcTicks: p(T.long, (d: CsDateTimeOffset) => d.utcDateTime.ticks),
  },
  methods: {
    ToUnixTimeSeconds: m(T.long, (d: CsDateTimeOffset) => d.toUnixSeconds(), { max: 0 }),
    ToUnixTimeMilliseconds: m(T.long, (d: CsDateTimeOffset) => d.toUnixMs(), { max: 0 }),
    AddYears: m(DTO, (d: CsDateTimeOffset, a) => new CsDateTimeOffset(d.dateTime.addMonths((a[0] as number) * 12).ms - d.offsetMin * 60_000, d.offsetMin), { min: 1, max: 1 }),
    AddMonths: m(DTO, (d: CsDateTimeOffset, a) => new CsDateTimeOffset(d.dateTime.addMonths(a[0] as number).ms - d.offsetMin * 60_000, d.offsetMin), { min: 1, max: 1 }),
    AddDays: m(DTO, (d: CsDateTimeOffset, a) => d.addMs((a[0] as number) * MS.day), { min: 1, max: 1 }),
    AddHours: m(DTO, (d: CsDateTimeOffset, a) => d.addMs((a[0] as number) * MS.hour), { min: 1, max: 1 }),
    AddMinutes: m(DTO, (d: CsDateTimeOffset, a) => d.addMs((a[0] as number) * MS.minute), { min: 1, max: 1 }),
    AddSeconds: m(DTO, (d: CsDateTimeOffset, a) => d.addMs((a[0] as number) * MS.second), { min: 1, max: 1 }),
    AddMilliseconds: m(DTO, (d: CsDateTimeOffset, a) => d.addMs(a[0] as number), { min: 1, max: 1 }),
    Add: m(DTO, (d: CsDateTimeOffset, a) => d.addMs((a[0] as CsTimeSpan).ms), { min: 1, max: 1 }),
    Subtract: m((_s, a) => (a[0] && a[0].n === 'DateTimeOffset' ? TS : DTO), (d: CsDateTimeOffset, a) => {
      const o = a[0];
      if (o instanceof CsDateTimeOffset) return new CsTimeSpan(d.utcMs - o.utcMs);
      return d.addMs(-(o as CsTimeSpan).ms);
    }, { min: 1, max: 1 }),
    ToUniversalTime: m(DTO, (d: CsDateTimeOffset) => new CsDateTimeOffset(d.utcMs, 0), { max: 0 }),
    ToLocalTime: m(DTO, (d: CsDateTimeOffset) => new CsDateTimeOffset(d.utcMs, 0), { max: 0 }),
    ToOffset: m(DTO, (d: CsDateTimeOffset, a) => new CsDateTimeOffset(d.utcMs, Math.round((a[0] as CsTimeSpan).ms / 60_000)), { min: 1, max: 1 }),
    ToString: m(T.string, (d: CsDateTimeOffset, a) => formatDateTimeOffset(d, typeof a[0] === 'string' ? a[0] : null), { max: 2 }),
    CompareTo: m(T.int, (d: CsDateTimeOffset, a) => csCompare(d, a[0]), { min: 1, max: 1 }),
    Equals: m(T.bool, (d: CsDateTimeOffset, a) => a[0] instanceof CsDateTimeOffset && a[0].utcMs === d.utcMs, { min: 1, max: 1 }),
  },
  sprops: {
    UtcNow: p(DTO, () => CsDateTimeOffset.now()),
    Now: p(DTO, () => CsDateTimeOffset.now()),
    MinValue: p(DTO, () => new CsDateTimeOffset(MIN_MS, 0)),
    MaxValue: p(DTO, () => new CsDateTimeOffset(MAX_MS, 0)),
    UnixEpoch: p(DTO, () => new CsDateTimeOffset(0, 0)),
  },
  smethods: {
    FromUnixTimeSeconds: m(DTO, (_s, a) => {
      const s = a[0] as number;
      if (s < -62_135_596_800 || s > 253_402_300_799) throw new CsException('ArgumentOutOfRangeException', "Valid values are between -62135596800 and 253402300799, inclusive. (Parameter 'seconds')");
      return new CsDateTimeOffset(s * 1000, 0);
    }, { min: 1, max: 1 }),
    FromUnixTimeMilliseconds: m(DTO, (_s, a) => {
      const s = a[0] as number;
      if (s < MIN_MS || s > MAX_MS) throw new CsException('ArgumentOutOfRangeException', "Valid values are between -62135596800000 and 253402300799999, inclusive. (Parameter 'milliseconds')");
      return new CsDateTimeOffset(s, 0);
    }, { min: 1, max: 1 }),
    Parse: m(DTO, (_s, a) => parseDateTimeOffset(needStr(a[0], 'input')), { min: 1, max: 3 }),
    TryParse: m(T.bool, (_s, a) => {
      const box = a[a.length - 1] as OutBox;
      try {
        box.value = parseDateTimeOffset(needStr(a[0], 'input'));
        return true;
      } catch {
        box.value = new CsDateTimeOffset(MIN_MS, 0);
        return false;
      }
    }, { min: 2, max: 4, out: (_s, i, _a, _g, n) => (i === n - 1 ? DTO : null) }),
  },
  ctor: {
    call(a) {
      if (a[0] instanceof CsDateTime) {
        const off = a[1] instanceof CsTimeSpan ? Math.round(a[1].ms / 60_000) : undefined;
        return CsDateTimeOffset.fromDateTime(a[0], off);
      }
      const nums = a.filter((x) => typeof x === 'number') as number[];
      const off = a.find((x) => x instanceof CsTimeSpan) as CsTimeSpan | undefined;
      if (nums.length === 1 && off) return new CsDateTimeOffset(CsDateTime.fromTicks(nums[0] as number).ms - off.ms, Math.round(off.ms / 60_000));
      const [y, mo, d, h = 0, mi = 0, s = 0, ms = 0] = nums;
      const local = CsDateTime.fromParts(y as number, mo as number, d as number, h, mi, s, ms);
      const offMin = off ? Math.round(off.ms / 60_000) : 0;
      return new CsDateTimeOffset(local.ms - offMin * 60_000, offMin);
    },
    min: 1,
    max: 8,
  },
});

define('TimeSpan', {
  props: {
    Days: p(T.int, (t: CsTimeSpan) => t.days),
    Hours: p(T.int, (t: CsTimeSpan) => t.hours),
    Minutes: p(T.int, (t: CsTimeSpan) => t.minutes),
    Seconds: p(T.int, (t: CsTimeSpan) => t.seconds),
    Milliseconds: p(T.int, (t: CsTimeSpan) => t.milliseconds),
    Ticks: p(T.long, (t: CsTimeSpan) => t.ticks),
    TotalDays: p(T.double, (t: CsTimeSpan) => t.ms / MS.day),
    TotalHours: p(T.double, (t: CsTimeSpan) => t.ms / MS.hour),
    TotalMinutes: p(T.double, (t: CsTimeSpan) => t.ms / MS.minute),
    TotalSeconds: p(T.double, (t: CsTimeSpan) => t.ms / MS.second),
    TotalMilliseconds: p(T.double, (t: CsTimeSpan) => t.ms),
  },
  methods: {
    Add: m(TS, (t: CsTimeSpan, a) => new CsTimeSpan(t.ms + (a[0] as CsTimeSpan).ms), { min: 1, max: 1 }),
    Subtract: m(TS, (t: CsTimeSpan, a) => new CsTimeSpan(t.ms - (a[0] as CsTimeSpan).ms), { min: 1, max: 1 }),
    Negate: m(TS, (t: CsTimeSpan) => new CsTimeSpan(-t.ms), { max: 0 }),
    Duration: m(TS, (t: CsTimeSpan) => new CsTimeSpan(Math.abs(t.ms)), { max: 0 }),
    ToString: m(T.string, (t: CsTimeSpan, a) => formatTimeSpan(t, typeof a[0] === 'string' ? a[0] : null), { max: 2 }),
    CompareTo: m(T.int, (t: CsTimeSpan, a) => csCompare(t, a[0]), { min: 1, max: 1 }),
    Equals: m(T.bool, (t: CsTimeSpan, a) => a[0] instanceof CsTimeSpan && a[0].ms === t.ms, { min: 1, max: 1 }),
  },
  sprops: {
    Zero: p(TS, () => new CsTimeSpan(0)),
    MaxValue: p(TS, () => new CsTimeSpan(922337203685477.5807)),
    MinValue: p(TS, () => new CsTimeSpan(-922337203685477.5808)),
  },
  smethods: {
    FromDays: m(TS, (_s, a) => new CsTimeSpan((a[0] as number) * MS.day), { min: 1, max: 1 }),
    FromHours: m(TS, (_s, a) => new CsTimeSpan((a[0] as number) * MS.hour), { min: 1, max: 1 }),
    FromMinutes: m(TS, (_s, a) => new CsTimeSpan((a[0] as number) * MS.minute), { min: 1, max: 1 }),
    FromSeconds: m(TS, (_s, a) => new CsTimeSpan((a[0] as number) * MS.second), { min: 1, max: 1 }),
    FromMilliseconds: m(TS, (_s, a) => new CsTimeSpan(a[0] as number), { min: 1, max: 1 }),
    FromTicks: m(TS, (_s, a) => CsTimeSpan.fromTicks(a[0] as number), { min: 1, max: 1 }),
    Parse: m(TS, (_s, a) => parseTimeSpan(needStr(a[0], 's')), { min: 1, max: 2 }),
    TryParse: m(T.bool, (_s, a) => {
      const box = a[a.length - 1] as OutBox;
      try {
        box.value = parseTimeSpan(needStr(a[0], 's'));
        return true;
      } catch {
        box.value = new CsTimeSpan(0);
        return false;
      }
    }, { min: 2, max: 3, out: (_s, i, _a, _g, n) => (i === n - 1 ? TS : null) }),
  },
  ctor: {
    call(a) {
      const n = a as number[];
      if (n.length === 1) return CsTimeSpan.fromTicks(n[0] as number);
      if (n.length === 3) return new CsTimeSpan((n[0] as number) * MS.hour + (n[1] as number) * MS.minute + (n[2] as number) * MS.second);
      const [d, h, mi, s, ms = 0] = n;
      return new CsTimeSpan((d as number) * MS.day + (h as number) * MS.hour + (mi as number) * MS.minute + (s as number) * MS.second + ms);
    },
    min: 1,
    max: 5,
  },
});
