// Going to a page of the dashboard as a user does at desktop width: its link in the main
// navigation, then its heading. (At 420 px the navigation is behind a menu: narrow.spec.)
import { expect, type Page } from '@playwright/test';

export async function openPage(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}
