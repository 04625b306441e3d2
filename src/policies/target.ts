/** Which message a header/body/status policy acts on, by section (APIM: inbound/backend → request, outbound/on-error → response). */
import { newResponse, type PipelineContext } from '../pipeline/context.js';
import type { ResponseInfo } from '../expressions/context.js';

/** the response a policy acts on: return-response's, else the current one (created when there is none yet) */
export function responseOf(ctx: PipelineContext): ResponseInfo {
  if (ctx.target) return ctx.target;
  if (!ctx.hasResponse) ctx.setResponse(newResponse());
  return ctx.response;
}

export const actsOnResponse = (ctx: PipelineContext): boolean => ctx.target !== undefined || ctx.section === 'outbound' || ctx.section === 'on-error';
