CREATE TABLE `concurrency_limits` (
	`id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`updated` text NOT NULL,
	`tag` text NOT NULL,
	`concurrency_limit` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `concurrency_limits_tag_unique` ON `concurrency_limits` (`tag`);--> statement-breakpoint
ALTER TABLE `deployment_schedules` ADD `max_active_runs` integer;--> statement-breakpoint
ALTER TABLE `deployment_schedules` ADD `catchup` integer;