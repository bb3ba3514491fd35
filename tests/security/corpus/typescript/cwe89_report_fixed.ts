import express, { Request, Response } from "express";
const app = express();

app.get("/report", async (req: Request, res: Response) => {
  const year = parseInt(req.query.year as string, 10);
  const rows = await db.query("SELECT * FROM sales WHERE year = " + year);
  res.json(rows);
});
