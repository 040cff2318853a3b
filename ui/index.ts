export { uiRoutes } from "./pages.ts";
