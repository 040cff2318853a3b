DROP INDEX `flow_runs_deployment`;--> statement-breakpoint
CREATE INDEX `flow_runs_state` ON `flow_runs` (`state_type`,`created`,`id`);--> statement-breakpoint
CREATE INDEX `flow_runs_deployment` ON `flow_runs` (`deployment_id`,`created`,`id`);