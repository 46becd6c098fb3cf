// One address of the wallet (the node key or the payout address): the full address (it wraps on
// narrow screens), copy, a QR code rendered in the page (qrcode, pure JS: an SVG data URL), and
// its balances.
import { useEffect, useState } from 'react';
import QRCode from 'qrcode';
import Box from '@mui/material/Box';
import Button from '@mui/material/Button';
import Card from '@mui/material/Card';
import Chip from '@mui/material/Chip';
import Stack from '@mui/material/Stack';
import Typography from '@mui/material/Typography';
import ContentCopyIcon from '@mui/icons-material/ContentCopy';
import QrCode2Icon from '@mui/icons-material/QrCode2';
import type { WalletAccount } from '../../../../shared/api';
import { showAmount } from './amounts';

const KIND_WORDS: Record<WalletAccount['kind'], string> = {
  'node-key': 'Node key (kept here)',
  'app-wallet': 'Wallet kept here',
  external: 'External address',
};

export function AddressCard({
  id,
  title,
  note,
  account,
}: {
  id: string;
  title: string;
  note: string;
  account: WalletAccount;
}) {
  const [qr, setQr] = useState<string | null>(null);
  const [showQr, setShowQr] = useState(false);
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    let live = true;
    QRCode.toString(account.address, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' }).then(
      (svg) => live && setQr(`data:image/svg+xml;utf8,${encodeURIComponent(svg)}`),
      () => live && setQr(null),
    );
    return () => {
      live = false;
    };
  }, [account.address]);
  const copy = async (): Promise<void> => {
    await navigator.clipboard?.writeText(account.address).catch(() => undefined);
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  const headingId = `wallet-${id}-title`;
  return (
    <Card
      component="section"
      aria-labelledby={headingId}
      data-testid={`wallet-${id}`}
      sx={{ p: 2.5 }}
    >
      <Stack direction="row" spacing={1} sx={{ alignItems: 'center', flexWrap: 'wrap', mb: 1 }}>
        <Typography variant="h2" id={headingId} sx={{ fontSize: 16, fontWeight: 600 }}>
          {title}
        </Typography>
        <Chip size="small" label={KIND_WORDS[account.kind]} />
      </Stack>
      <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
        {note}
      </Typography>
      <Typography
        data-testid={`wallet-${id}-address`}
        sx={{ fontFamily: 'monospace', fontSize: 13, wordBreak: 'break-all', mb: 1 }}
      >
        {account.address}
      </Typography>
      <Stack direction="row" spacing={1} sx={{ mb: 1.5, flexWrap: 'wrap' }}>
        <Button size="small" startIcon={<ContentCopyIcon />} onClick={() => void copy()}>
          {copied ? 'Copied' : 'Copy'}
        </Button>
        <Button
          size="small"
          startIcon={<QrCode2Icon />}
          aria-expanded={showQr}
          onClick={() => setShowQr((v) => !v)}
          disabled={!qr}
        >
          {showQr ? 'Hide QR code' : 'QR code'}
        </Button>
      </Stack>
      {showQr && qr && (
        <Box
          component="img"
          src={qr}
          alt={`QR code of ${account.address}`}
          data-testid={`wallet-${id}-qr`}
          sx={{
            width: 168,
            height: 168,
            display: 'block',
            mb: 1.5,
            bgcolor: '#fff',
            p: 0.5,
            borderRadius: 1,
          }}
        />
      )}
      {account.balances ? (
        <Stack
          component="ul"
          spacing={0.5}
          sx={{ listStyle: 'none', p: 0, m: 0 }}
          aria-label="Balances"
        >
          {account.balances.map((b) => (
            <Typography component="li" key={b.token.address ?? 'gas'} variant="body2">
              <Box component="span" sx={{ fontWeight: 600 }}>
                {showAmount(b)}
              </Box>
            </Typography>
          ))}
        </Stack>
      ) : (
        <Typography variant="body2" color="text.secondary">
          Balances appear once the payment chain answers.
        </Typography>
      )}
    </Card>
  );
}
