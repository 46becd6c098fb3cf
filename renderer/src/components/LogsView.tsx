// Settings → Logs: the node's recent log entries (logs.tail), then live ones from the event
// stream, filtered by level. Capped, so a chatty node never makes the page heavy.
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import Button from '@mui/material/Button';
import Box from '@mui/material/Box';
import IconButton from '@mui/material/IconButton';
import TextField from '@mui/material/TextField';
import Typography from '@mui/material/Typography';
import { alpha, type Theme } from '@mui/material/styles';
import RefreshIcon from '@mui/icons-material/Refresh';
import { LOG_LEVELS, type LogEntry, type LogLevel } from '../../../shared/api';
import { formatClock } from '../format';
import { useNodeStore } from '../stores/node';
import { MONO_STACK } from '../theme';

/** The most lines kept. */
export const MAX_LOG_LINES = 1000;
/** Lines shown at first (the newest), and how many more each "Show older lines" adds. */
export const SHOWN_STEP = 150;
const TAIL_LIMIT = 500;

const rank = (level: LogLevel): number => LOG_LEVELS.indexOf(level);

const LEVEL_LABEL: Record<LogLevel, string> = {
  debug: 'Debug and above',
  info: 'Info and above',
  warn: 'Warnings and errors',
  error: 'Errors only',
};

function levelColor(theme: Theme, level: LogLevel): string {
  switch (level) {
    case 'error':
      return theme.palette.error.main;
    case 'warn':
      return theme.palette.warning.main;
    case 'info':
      return theme.palette.info.main;
    default:
      return theme.palette.text.disabled;
  }
}

// The clock of each entry, formatted once: entries never change, so a re-render (every new line,
// a theme change) does not format a thousand times again (a CPU profile of a busy node's
// Settings page spent most of its frames in toLocaleTimeString).
const clocks = new WeakMap<LogEntry, string>();
function clockOf(entry: LogEntry): string {
  let clock = clocks.get(entry);
  if (clock === undefined) {
    clock = formatClock(entry.time);
    clocks.set(entry, clock);
  }
  return clock;
}

/**
 * One line: plain elements styled by the list's one style rule (a style object per line cost
 * each line its own CSS work at every render), and memoized (an entry is never mutated).
 */
const LogLine = memo(function LogLine({ entry }: { entry: LogEntry }) {
  const data = entry.data && Object.keys(entry.data).length > 0 ? JSON.stringify(entry.data) : '';
  return (
    <li data-level={entry.level}>
      <span className="log-time">{clockOf(entry)}</span>
      <span className="log-level">{entry.level}</span>
      <span className="log-scope">{entry.scope}</span>
      <span className="log-msg">
        {entry.msg}
        {data ? <span className="log-data"> {data}</span> : null}
      </span>
    </li>
  );
});

const listSx = (theme: Theme) => ({
  listStyle: 'none',
  m: 0,
  p: 0,
  '& > li': {
    display: 'flex',
    gap: 1.5,
    px: 1.5,
    py: 0.25,
    whiteSpace: 'pre-wrap',
    wordBreak: 'break-word',
  },
  '& > li[data-level="error"]': { backgroundColor: alpha(levelColor(theme, 'error'), 0.08) },
  '& > li[data-level="warn"]': { backgroundColor: alpha(levelColor(theme, 'warn'), 0.08) },
  '& .log-time': { color: 'text.secondary', flexShrink: 0 },
  '& .log-level': {
    fontWeight: 700,
    width: '5ch',
    flexShrink: 0,
    textTransform: 'uppercase',
    color: levelColor(theme, 'debug'),
  },
  '& li[data-level="info"] .log-level': { color: levelColor(theme, 'info') },
  '& li[data-level="warn"] .log-level': { color: levelColor(theme, 'warn') },
  '& li[data-level="error"] .log-level': { color: levelColor(theme, 'error') },
  '& .log-scope': { color: 'secondary.main', flexShrink: 0 },
  '& .log-msg': { minWidth: 0 },
  '& .log-data': { color: 'text.secondary' },
});

export function LogsView() {
  const call = useNodeStore((s) => s.call);
  const liveLogs = useNodeStore((s) => s.liveLogs);
  const [minLevel, setMinLevel] = useState<LogLevel>('info');
  const [reload, setReload] = useState(0);
  const [tail, setTail] = useState<{ entries: LogEntry[]; file: string } | null>(null);
  // Only the newest lines are in the page, so its cost does not grow with the log.
  const [shownCount, setShownCount] = useState(SHOWN_STEP);

  useEffect(() => {
    let cancelled = false;
    void call('logs.tail', { limit: TAIL_LIMIT, minLevel }).then((result) => {
      if (!cancelled && result) setTail(result);
    });
    return () => {
      cancelled = true;
    };
  }, [call, minLevel, reload]);

  const lines = useMemo(() => {
    const base = tail?.entries ?? [];
    const lastSeq = base.length > 0 ? base[base.length - 1]!.seq : -1;
    const live = liveLogs.filter((e) => e.seq > lastSeq && rank(e.level) >= rank(minLevel));
    return [...base, ...live].slice(-MAX_LOG_LINES);
  }, [tail, liveLogs, minLevel]);
  const shown = lines.length > shownCount ? lines.slice(-shownCount) : lines;
  const hidden = lines.length - shown.length;

  // Follow new lines while the view is scrolled to the bottom; stay put when the user scrolled up.
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  // Once a frame at most: reading scrollHeight lays the page out, and a busy node sends many
  // lines a frame (each forced a layout of the whole Settings page).
  const follow = useRef(0);
  useLayoutEffect(() => {
    if (!atBottom.current || follow.current) return;
    follow.current = requestAnimationFrame(() => {
      follow.current = 0;
      const el = scroller.current;
      if (el && atBottom.current) el.scrollTop = el.scrollHeight;
    });
  }, [shown]);
  useEffect(() => () => cancelAnimationFrame(follow.current), []);

  return (
    <Box>
      <Box sx={{ display: 'flex', gap: 1, alignItems: 'center', mb: 1.5, flexWrap: 'wrap' }}>
        <TextField
          select
          size="small"
          label="Level"
          value={minLevel}
          onChange={(e) => setMinLevel(e.target.value as LogLevel)}
          slotProps={{ select: { native: true }, inputLabel: { shrink: true } }}
          sx={{ minWidth: 200 }}
          data-testid="log-level"
        >
          {LOG_LEVELS.map((level) => (
            <option key={level} value={level}>
              {LEVEL_LABEL[level]}
            </option>
          ))}
        </TextField>
        <IconButton
          aria-label="Reload the logs"
          title="Reload the logs"
          onClick={() => setReload((n) => n + 1)}
        >
          <RefreshIcon />
        </IconButton>
        <Box sx={{ flex: 1 }} />
        <Typography variant="caption" color="text.secondary" sx={{ fontFamily: MONO_STACK }}>
          {hidden > 0 ? `${shown.length} of ` : ''}
          {lines.length} {lines.length === 1 ? 'line' : 'lines'}
          {lines.length >= MAX_LOG_LINES ? ' (newest kept)' : ''}
        </Typography>
      </Box>
      <Box
        ref={scroller}
        role="log"
        aria-live="off"
        aria-label="Log entries"
        tabIndex={0}
        data-testid="log-lines"
        onScroll={(e) => {
          const el = e.currentTarget;
          atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
        sx={(theme) => ({
          height: 340,
          overflow: 'auto',
          // Its lines never change the page's layout: new ones lay out only this box.
          contain: 'strict',
          borderRadius: 1,
          border: `1px solid ${theme.palette.divider}`,
          backgroundColor: theme.palette.mode === 'dark' ? '#0a0c10' : '#fafbfc',
          fontFamily: MONO_STACK,
          fontSize: 12.5,
          lineHeight: 1.6,
          py: 1,
          '&:focus-visible': {
            outline: `2px solid ${theme.palette.primary.main}`,
            outlineOffset: 2,
          },
        })}
      >
        {lines.length === 0 ? (
          <Typography variant="body2" color="text.secondary" sx={{ px: 1.5 }}>
            {tail ? 'No entries at this level yet.' : 'Loading…'}
          </Typography>
        ) : (
          <>
            {hidden > 0 ? (
              <Box sx={{ px: 1.5, pb: 0.5 }}>
                <Button
                  size="small"
                  onClick={() => setShownCount((n) => n + SHOWN_STEP)}
                  data-testid="log-show-older"
                >
                  Show older lines ({hidden} more)
                </Button>
              </Box>
            ) : null}
            <Box component="ol" sx={listSx}>
              {shown.map((entry) => (
                <LogLine key={entry.seq} entry={entry} />
              ))}
            </Box>
          </>
        )}
      </Box>
      {tail ? (
        <Typography
          variant="caption"
          color="text.secondary"
          component="p"
          sx={{ mt: 1, wordBreak: 'break-all' }}
        >
          Log file:{' '}
          <Box component="span" sx={{ fontFamily: MONO_STACK }}>
            {tail.file}
          </Box>
        </Typography>
      ) : null}
    </Box>
  );
}
