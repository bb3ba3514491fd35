import express, { Request, Response } from "express";
const app = express();

app.get("/report", async (req: Request, res: Response) => {
  const year = req.query.year as string;
  const rows = await db.query("SELECT * FROM sales WHERE year = " + year);
  res.json(rows);
});
