CREATE TABLE `deployment_schedules` (
	`id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`updated` text NOT NULL,
	`deployment_id` text NOT NULL,
	`schedule` text NOT NULL,
	`active` integer NOT NULL,
	`parameters` text NOT NULL,
	`slug` text,
	FOREIGN KEY (`deployment_id`) REFERENCES `deployments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `deployment_schedules_deployment` ON `deployment_schedules` (`deployment_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `deployment_schedules_slug` ON `deployment_schedules` (`deployment_id`,`slug`);--> statement-breakpoint
ALTER TABLE `deployments` ADD `catchup` text DEFAULT 'all' NOT NULL;--> statement-breakpoint
ALTER TABLE `flow_runs` ADD `auto_scheduled` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `flow_runs` ADD `schedule_id` text;--> statement-breakpoint
ALTER TABLE `flow_runs` ADD `idempotency_key` text;--> statement-breakpoint
CREATE UNIQUE INDEX `flow_runs_idempotency` ON `flow_runs` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `flow_runs_schedule` ON `flow_runs` (`schedule_id`,`expected_start_time`);