// Wires an Api to the model and re-renders on every change (at most as often as the app
// emits, ~10 times a second).
import { errorText, type Api } from "./api";
import { applyStates, initialModel, type Model } from "./model";
import { render } from "./view";

/** Starts the UI in `root` against `api`; resolves once the first app_info answered. */
export async function start(root: Element, api: Api): Promise<void> {
  let model: Model = initialModel();
  const update = (next: Model) => {
    model = next;
    render(root, model, actions);
  };
  const actions = {
    tryDemo: () => {
      // WIRE: add the demo subscription (the engine's bundled local demo server).
      api
        .appInfo()
        .then((info) =>
          update({
            ...model,
            info,
            notice: {
              kind: "info",
              text: `The demo feed arrives with the engine (${info.status}).`,
            },
          }),
        )
        .catch((err) => update({ ...model, notice: { kind: "error", text: errorText(err) } }));
    },
  };

  update(model);
  await api.onStates((batch) => update(applyStates(model, batch)));
  // WIRE: open the import dialog (dry-run diff, confirm) instead of a notice.
  const takeFiles = async () => {
    const paths = await api.takeOpenFiles();
    if (paths.length) update({ ...model, notice: { kind: "info", text: `Open: ${paths.join(", ")}` } });
  };
  await api.onOpenFiles(() => void takeFiles().catch(() => {}));
  try {
    update({ ...model, info: await api.appInfo() });
    // Files from the launch that created this window arrived before we listened.
    await takeFiles();
  } catch (err) {
    update({ ...model, notice: { kind: "error", text: errorText(err) } });
  }
}
