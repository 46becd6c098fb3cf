// The first-run wizard: shown over the app while the node says it is due (status.firstRun: no
// network chosen, settings.network.mode null): a wallet, then the network, then the Dashboard.
import { useState } from 'react';
import Dialog from '@mui/material/Dialog';
import DialogContent from '@mui/material/DialogContent';
import DialogTitle from '@mui/material/DialogTitle';
import Step from '@mui/material/Step';
import StepLabel from '@mui/material/StepLabel';
import Stepper from '@mui/material/Stepper';
import Typography from '@mui/material/Typography';
import { useNodeStore } from '../../stores/node';
import { hrefFor } from '../../app/router';
import { WalletStep } from './WalletStep';
import { NetworkStep } from './NetworkStep';

export function FirstRunWizard() {
  const due = useNodeStore((s) => s.status?.firstRun === true);
  const mode = useNodeStore((s) => (s.settings ? s.settings.network.mode : undefined));
  const [step, setStep] = useState(0);
  const [wallet, setWallet] = useState<string | null>(null);
  // Not due (the node says), not loaded yet, or chosen meanwhile: nothing to ask.
  if (!due || mode !== null) return null;
  return (
    <Dialog open fullWidth maxWidth="sm" aria-labelledby="firstrun-title" data-testid="firstrun">
      <DialogTitle id="firstrun-title">Welcome to Idlerig</DialogTitle>
      <DialogContent>
        <Stepper activeStep={step} sx={{ mb: 3 }}>
          <Step>
            <StepLabel>Wallet</StepLabel>
          </Step>
          <Step>
            <StepLabel>Network</StepLabel>
          </Step>
        </Stepper>
        {step === 0 ? (
          <WalletStep
            onDone={(summary) => {
              setWallet(summary);
              setStep(1);
            }}
          />
        ) : (
          <>
            {wallet ? (
              <Typography
                variant="body2"
                color="text.secondary"
                // An address is one long word: broken anywhere rather than past the dialog's edge.
                sx={{ mb: 2, overflowWrap: 'anywhere' }}
                data-testid="firstrun-wallet-summary"
              >
                {wallet}
              </Typography>
            ) : null}
            <NetworkStep
              onDone={() => {
                window.location.hash = hrefFor('dashboard');
              }}
            />
          </>
        )}
      </DialogContent>
    </Dialog>
  );
}
