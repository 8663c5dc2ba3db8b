import { Router } from 'express';
import { create as contentDisposition } from 'content-disposition';
import { reportToCsv, type StatsService } from '../../services/stats/stats.service.js';
import { ROLE_RULES, requireRole } from '../middleware/auth.js';

export function statsRouter(stats: StatsService): Router {
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.stats);

  router.get('/stats', allowed, (req, res) => {
    res.type('json').send(stats.reportJson(req.query));
  });

  router.get('/stats.csv', allowed, (req, res) => {
    const report = stats.report(req.query);
    res.setHeader('Content-Type', 'text/csv; charset=utf-8; header=present');
    res.setHeader('Content-Disposition', contentDisposition(`darkroom-stats-${report.from}-to-${report.to}.csv`));
    res.send(reportToCsv(report));
  });

  return router;
}
