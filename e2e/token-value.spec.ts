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

test('Settings → Token value: the checks without a message of their own are said in words on their fields', async ({
  page,
  node,
  console: watch,
}) => {
  watch.allow(
    /Failed to load resource: the server responded with a status of 400 .*\/api\/rpc\/settings\.update\)$/,
  );
  await page.goto(node.url);
  await openPage(page, 'Settings');
  const section = page.getByTestId('settings-token-value');
  const save = section.getByTestId('token-save');
  const decimals = section.getByTestId('token-decimals');
  const symbol = section.getByTestId('token-symbol');
  // Nothing changed, nothing to save (as Node name and the engine's settings).
  await expect(save).toBeDisabled();
  // The limits are said before anything is typed.
  await expect(section).toContainText('0 to 36');
  await expect(section).toContainText('up to 16 characters');

  const refused = async (expected: { decimals?: string; symbol?: string }) => {
    await save.click();
    await expect(section.getByRole('alert')).toContainText('Not saved');
    const text = (await section.textContent()) ?? '';
    expect(text).not.toMatch(/Invalid input|Too big|Too small|expected|received|<=|>=/);
    if (expected.decimals) {
      await expect(decimals).toHaveAttribute('aria-invalid', 'true');
      await expect(section).toContainText(expected.decimals);
    }
    if (expected.symbol) {
      await expect(symbol).toHaveAttribute('aria-invalid', 'true');
      await expect(section).toContainText(expected.symbol);
    }
  };
  await decimals.fill('1.5');
  await refused({ decimals: 'Enter a whole number' });
  await decimals.fill('100');
  await refused({ decimals: 'Enter 36 or less' });
  await decimals.fill('-1');
  await refused({ decimals: 'Enter 0 or more' });
  await decimals.fill('18');
  await symbol.fill('');
  await refused({ symbol: 'Cannot be empty' });
  // A long symbol is not cut short without a word: the node's limit shows on the field.
  await symbol.fill('ABCDEFGHIJKLMNOPQRST');
  await expect(symbol).toHaveValue('ABCDEFGHIJKLMNOPQRST');
  await refused({ symbol: 'Use at most 16 characters' });
  await symbol.fill('IDLE');
  await expect(save).toBeDisabled();
  await page.setViewportSize({ width: 420, height: 800 });
  await decimals.fill('1.5');
  await save.click();
  await expect(decimals).toHaveAttribute('aria-invalid', 'true');
  await section.screenshot({ path: test.info().outputPath('token-words-420.png') });
});
