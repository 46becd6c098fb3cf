import Box from '@mui/material/Box';
import type { NodeState } from '../../../shared/api';
import { STATE_COLOR, stateMainColor } from '../theme';

/** A small coloured dot for a state (decorative: always give the state in words next to it). */
export function StateDot({ state, size = 8 }: { state: NodeState; size?: number }) {
  return (
    <Box
      component="span"
      aria-hidden
      sx={(theme) => ({
        display: 'inline-block',
        flexShrink: 0,
        width: size,
        height: size,
        borderRadius: '50%',
        backgroundColor: stateMainColor(theme, STATE_COLOR[state]),
      })}
    />
  );
}
