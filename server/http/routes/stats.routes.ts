import { Router } from 'express';
import { create as contentDisposition } from 'content-disposition';
import { StatsQuery, StatsReport } from '../../api/index.js';
import { answerJsonText } from '../answer.js';
import { reportToCsv, type StatsService } from '../../services/stats/stats.service.js';
import { ROLE_RULES, requireRole } from '../middleware/auth.js';
import { parseQuery } from '../validate.js';

export function statsRouter(stats: StatsService): Router {
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.stats);

  router.get('/stats', allowed, async (req, res) => {
    answerJsonText(res, StatsReport, await stats.reportJson(parseQuery(StatsQuery, req.query)));
  });

  router.get('/stats.csv', allowed, async (req, res) => {
    const report = await stats.report(parseQuery(StatsQuery, req.query));
    res.setHeader('Content-Type', 'text/csv; charset=utf-8; header=present');
    res.setHeader('Content-Disposition', contentDisposition(`darkroom-stats-${report.from}-to-${report.to}.csv`));
    res.send(reportToCsv(report));
  });

  return router;
}
