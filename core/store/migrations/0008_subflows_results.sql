CREATE TABLE `flow_run_results` (
	`flow_run_id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`bytes` integer NOT NULL,
	`json` text NOT NULL,
	FOREIGN KEY (`flow_run_id`) REFERENCES `flow_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `flow_runs` ADD `parent_flow_run_id` text;--> statement-breakpoint
ALTER TABLE `flow_runs` ADD `parent_task_run_id` text;--> statement-breakpoint
CREATE INDEX `flow_runs_parent` ON `flow_runs` (`parent_flow_run_id`);