ALTER TABLE `deployments` ADD `triggers` text;--> statement-breakpoint
ALTER TABLE `deployments` ADD `concurrency_limit` text;