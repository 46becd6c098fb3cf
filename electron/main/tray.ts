// Renders the tray model (tray-model.ts) with Electron: icon, tooltip and menu follow the node's
// status events. resources/tray/<icon>.png has a @2x twin that Electron picks on HiDPI screens.
import { join } from 'node:path';
import {
  Menu,
  Tray,
  nativeImage,
  type MenuItemConstructorOptions,
  type NativeImage,
} from 'electron';
import type { Status } from '../../shared/api/status';
import type { ScopedLogger } from '../provider/logs/logger';
import { trayModel, type TrayAction, type TrayIcon, type TrayModel } from './tray-model';

export interface TrayOptions {
  /** resources/tray */
  iconDir: string;
  status(): Status;
  onAction(action: TrayAction): void;
  log: ScopedLogger;
}

export class AppTray {
  private readonly tray: Tray;
  private readonly images = new Map<TrayIcon, NativeImage>();
  private last: string | null = null;

  constructor(private readonly opts: TrayOptions) {
    const model = trayModel(opts.status());
    this.tray = new Tray(this.image(model.icon));
    // Windows and most Linux trays: a click opens the dashboard (AppIndicator only has the menu).
    if (process.platform !== 'darwin') {
      this.tray.on('click', () => opts.onAction({ kind: 'open' }));
    }
    this.render(model);
  }

  /** Re-renders from a status (on every status event); unchanged models are not re-applied. */
  update(status: Status): void {
    this.render(trayModel(status));
  }

  destroy(): void {
    if (!this.tray.isDestroyed()) this.tray.destroy();
  }

  private render(model: TrayModel): void {
    const key = JSON.stringify(model);
    if (key === this.last || this.tray.isDestroyed()) return;
    this.last = key;
    this.tray.setImage(this.image(model.icon));
    this.tray.setToolTip(model.tooltip);
    const template: MenuItemConstructorOptions[] = model.items.map((item) => {
      if (item.type === 'separator') return { id: item.id, type: 'separator' };
      const action = item.action;
      return {
        id: item.id,
        label: item.label,
        enabled: item.enabled,
        ...(action ? { click: () => this.opts.onAction(action) } : {}),
      };
    });
    this.tray.setContextMenu(Menu.buildFromTemplate(template));
  }

  private image(icon: TrayIcon): NativeImage {
    let image = this.images.get(icon);
    if (!image) {
      image = nativeImage.createFromPath(join(this.opts.iconDir, `${icon}.png`));
      if (image.isEmpty())
        this.opts.log.warn('tray icon missing', { icon, dir: this.opts.iconDir });
      this.images.set(icon, image);
    }
    return image;
  }
}
