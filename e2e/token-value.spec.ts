// Settings → Token value in Debian's Chromium against the real headless node: what one token is
// worth in the electricity currency (the price floor and the net earnings use it). A refused
// value shows the node's typed error on its field and saves nothing; a good one is saved, is
// what the node's settings hold, and survives a restart of the node; at 420 px nothing is cut off.
import { expect, test } from './helpers/fixtures';
import { makeDataDir, removeDataDir, startNode } from './helpers/node';
import { openPage } from './helpers/nav';
import { rpc } from './helpers/rpc';

type Pricing = { currencyPerToken: number; tokenSymbol: string; tokenDecimals: number };
const pricingOf = async (node: { origin: string; token: string }): Promise<Pricing> =>
  ((await rpc(node, 'settings.get', {})) as { network: { pricing: Pricing } }).network.pricing;

test('Settings → Token value: refused values on their fields, a saved value survives a restart', async ({
  page,
  console: watch,
}) => {
  test.setTimeout(60_000);
  // The refused values below are answered 400 with a typed error, as designed.
  watch.allow(
    /Failed to load resource: the server responded with a status of 400 .*\/api\/rpc\/settings\.update\)$/,
  );
  const dir = await makeDataDir();
  let node = await startNode(dir);
  try {
    await page.goto(node.url);
    await openPage(page, 'Settings');
    const section = page.getByTestId('settings-token-value');
    await expect(section.getByRole('heading', { name: 'Token value' })).toBeVisible();
    // The defaults, in the node's electricity currency.
    await expect(section.getByRole('spinbutton', { name: '1 IDLE in EUR' })).toHaveValue('1');
    await expect(section.getByTestId('token-symbol')).toHaveValue('IDLE');
    await expect(section.getByTestId('token-decimals')).toHaveValue('18');
    await expect(section).toContainText('What one IDLE is worth in EUR');

    // Refused by the node: the message on the field, nothing saved.
    await section.getByTestId('token-value').fill('0');
    await section.getByTestId('token-save').click();
    await expect(section.getByTestId('token-value')).toHaveAttribute('aria-invalid', 'true');
    await expect(section).toContainText('The token value must be above 0');
    await expect(section.getByRole('alert')).toHaveText('Not saved: check the marked field.');
    // Typing clears the field's error; an empty one is caught before it is sent.
    await section.getByTestId('token-value').fill('');
    await expect(section.getByTestId('token-value')).toHaveAttribute('aria-invalid', 'false');
    await section.getByTestId('token-save').click();
    await expect(section).toContainText('Enter a number');
    await section.getByTestId('token-value').fill('0.25');
    await section.getByTestId('token-symbol').fill('');
    await section.getByTestId('token-save').click();
    await expect(section.getByTestId('token-symbol')).toHaveAttribute('aria-invalid', 'true');
    expect(await pricingOf(node)).toEqual({
      currencyPerToken: 1,
      tokenSymbol: 'IDLE',
      tokenDecimals: 18,
    });

    // A good value: saved, the label follows the symbol, the node holds it.
    await section.getByTestId('token-symbol').fill('USDX');
    await section.getByTestId('token-decimals').fill('6');
    await section.getByTestId('token-save').click();
    await expect(section.getByRole('status')).toHaveText('Saved');
    await expect(section.getByRole('spinbutton', { name: '1 USDX in EUR' })).toHaveValue('0.25');
    expect(await pricingOf(node)).toEqual({
      currencyPerToken: 0.25,
      tokenSymbol: 'USDX',
      tokenDecimals: 6,
    });

    // 420 px wide: every field and the button are in view, no sideways scroll.
    await page.setViewportSize({ width: 420, height: 800 });
    for (const id of ['token-value', 'token-symbol', 'token-decimals', 'token-save']) {
      const box = (await section.getByTestId(id).boundingBox())!;
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(420);
    }
    expect(await page.locator('html').evaluate((html) => html.scrollWidth)).toBeLessThanOrEqual(
      420,
    );
    await section.screenshot({ path: test.info().outputPath('token-value-420.png') });

    // A restart of the node: the page shows what was saved.
    await page.close();
    await node.stop();
    node = await startNode(dir);
    const again = await page.context().newPage();
    await again.goto(node.url);
    await openPage(again, 'Settings');
    const after = again.getByTestId('settings-token-value');
    await expect(after.getByRole('spinbutton', { name: '1 USDX in EUR' })).toHaveValue('0.25');
    await expect(after.getByTestId('token-decimals')).toHaveValue('6');
    await again.close();
  } finally {
    await node.stop().catch(() => undefined);
    await removeDataDir(dir);
  }
});
