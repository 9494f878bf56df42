/** The shared SQL runner (src/db/sql.ts), under the name the engine's SQL files import. */
export { batch, exec } from "../../db/sql.js";
