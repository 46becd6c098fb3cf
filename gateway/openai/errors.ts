// OpenAI's error shape: {"error": {"message", "type", "param", "code"}} with its status codes.
import type { ServerResponse } from 'node:http';
import { sendJson } from '../http';

export interface OpenAiError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

export function openAiError(
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
): { error: OpenAiError } {
  return { error: { message, type, param, code } };
}

export function sendOpenAiError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null = null,
  param: string | null = null,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, openAiError(message, type, code, param), headers);
}
