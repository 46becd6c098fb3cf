// The energy of the latest jobs: when each ended, its energy, average power, cost and net.
import Table from '@mui/material/Table';
import TableBody from '@mui/material/TableBody';
import TableCell from '@mui/material/TableCell';
import TableContainer from '@mui/material/TableContainer';
import TableHead from '@mui/material/TableHead';
import TableRow from '@mui/material/TableRow';
import { SettingsSection } from '../SettingsSection';
import { usePowerStore } from '../../stores/power';
import { money } from './energy-format';

export function RecentJobs() {
  const energy = usePowerStore((s) => s.energy);
  if (!energy || energy.jobs.length === 0) return null;
  return (
    <SettingsSection id="job-energy" title="Energy of recent jobs">
      <TableContainer sx={{ overflowX: 'auto' }}>
        <Table size="small" aria-label="Energy of recent jobs">
          <TableHead>
            <TableRow>
              <TableCell>Ended</TableCell>
              <TableCell align="right">Energy</TableCell>
              <TableCell align="right">Avg power</TableCell>
              <TableCell align="right">Cost</TableCell>
              <TableCell align="right">Net</TableCell>
            </TableRow>
          </TableHead>
          <TableBody>
            {energy.jobs.slice(0, 10).map((j) => (
              <TableRow key={`${j.id}-${j.endedAt}`}>
                <TableCell>{new Date(j.endedAt).toLocaleTimeString()}</TableCell>
                <TableCell align="right">{(j.kwh * 1000).toFixed(2)} Wh</TableCell>
                <TableCell align="right">
                  {j.estimated ? '≈ ' : ''}
                  {Math.round(j.avgW)} W
                </TableCell>
                <TableCell align="right">{money(j.cost, j.currency)}</TableCell>
                <TableCell align="right">
                  {j.net === null ? '—' : money(j.net, j.currency)}
                </TableCell>
              </TableRow>
            ))}
          </TableBody>
        </Table>
      </TableContainer>
    </SettingsSection>
  );
}
