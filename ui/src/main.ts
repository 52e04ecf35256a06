// Entry point of the webview.
import "./style.css";
import { tauriApi } from "./api";
import { start } from "./app";

const root = document.getElementById("app");
if (root) void start(root, tauriApi);
