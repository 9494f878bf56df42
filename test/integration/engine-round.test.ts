/**
 * The hand-driven round transaction (src/engine/sql/round.ts): statements marked `preparable` are
 * prepared once per connection and sent as EXECUTE; a failed message leaves the connection usable.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initOrm, migrate, type Orm } from "../../src/db/orm.js";
import { exec, preparable } from "../../src/db/sql.js";
import { inRound } from "../../src/engine/sql/round.js";
import { createTestDatabase, type TestDatabase } from "../helpers/db.js";

const DIVIDE = preparable(`select 10 / ?::int as q, ?::text as echo`);
// Fails in the very message that prepares it (the PREPARE has run by then: it is not transactional).
const DIVIDE_TOO = preparable(`select 20 / ?::int as q, ?::text as echo`);
const STATEMENTS = `select count(*)::int as n from pg_prepared_statements where statement like '%10 / $1::int%'`;

describe("worker round transactions", () => {
  let db: TestDatabase;
  let orm: Orm;
  beforeAll(async () => {
    db = await createTestDatabase();
    // One connection: every round below runs on the same server session.
    orm = await initOrm({ clientUrl: db.url, poolMax: 1 });
    await migrate(orm);
  });
  afterAll(async () => {
    await orm.close(true);
    await db.drop();
  });

  it("prepares a marked statement once per connection and executes it with inlined values", async () => {
    const awkward = "it's a \\ back?slash";
    for (let i = 1; i <= 3; i++) {
      const [row] = await inRound(orm, (tem) => exec<{ q: number; echo: string }>(tem, DIVIDE, [i, awkward]));
      expect(row).toEqual({ q: Math.floor(10 / i), echo: awkward });
    }
    const [prepared] = await inRound(orm, (tem) => exec<{ n: number }>(tem, STATEMENTS, []));
    expect(prepared!.n).toBe(1);
  });

  it("stays usable after a message that failed, prepared statements included", async () => {
    await inRound(orm, async () => undefined); // nothing sent
    await expect(inRound(orm, (tem) => exec(tem, DIVIDE_TOO, [0, "x"]))).rejects.toThrow(/division by zero/);
    // Which statements that message prepared is unknown to the round: it starts again from none.
    const [row] = await inRound(orm, (tem) => exec<{ q: number }>(tem, DIVIDE_TOO, [5, "y"]));
    expect(row!.q).toBe(4);
    const [again] = await inRound(orm, (tem) => exec<{ q: number }>(tem, DIVIDE, [2, "z"]));
    expect(again!.q).toBe(5);
  });
});
