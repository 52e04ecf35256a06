// The UI's state and the pure functions that change it; view.ts renders it.
import type { AppInfo, Batch, SubscriptionView } from "./api";

/** Everything the page shows. */
export interface Model {
  info: AppInfo | null;
  /** By id, in the order subscriptions first appeared. */
  subscriptions: Map<string, SubscriptionView>;
  /** A one-line message under the header (errors, hints); null hides it. */
  notice: { kind: "info" | "error"; text: string } | null;
}

/** The state before anything arrived. */
export function initialModel(): Model {
  return { info: null, subscriptions: new Map(), notice: null };
}

/** Applies a batch of state changes: the latest per subscription wins. */
export function applyStates(model: Model, batch: Batch<SubscriptionView>): Model {
  const subscriptions = new Map(model.subscriptions);
  for (const sub of batch.items) subscriptions.set(sub.id, sub);
  return { ...model, subscriptions };
}
