CREATE TABLE `agents` (
	`id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`name` text NOT NULL,
	`work_pool_name` text NOT NULL,
	`work_queues` text NOT NULL,
	`last_heartbeat` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `agents_pool` ON `agents` (`work_pool_name`);--> statement-breakpoint
CREATE TABLE `deployments` (
	`id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`updated` text NOT NULL,
	`name` text NOT NULL,
	`version` text,
	`description` text,
	`flow_id` text NOT NULL,
	`schedule` text,
	`is_schedule_active` integer NOT NULL,
	`parameters` text NOT NULL,
	`tags` text NOT NULL,
	`work_pool_name` text,
	`work_queue_name` text,
	`parameter_openapi_schema` text,
	`path` text,
	`entrypoint` text,
	`storage_document_id` text,
	`infrastructure_document_id` text,
	`job_variables` text NOT NULL,
	`pull_steps` text,
	`enforce_parameter_schema` integer NOT NULL,
	`paused` integer NOT NULL,
	FOREIGN KEY (`flow_id`) REFERENCES `flows`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `deployments_flow_name` ON `deployments` (`flow_id`,`name`);--> statement-breakpoint
CREATE TABLE `flow_run_states` (
	`id` text PRIMARY KEY NOT NULL,
	`flow_run_id` text NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`message` text,
	`timestamp` text NOT NULL,
	`data` text,
	FOREIGN KEY (`flow_run_id`) REFERENCES `flow_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `flow_run_states_run` ON `flow_run_states` (`flow_run_id`,`timestamp`);--> statement-breakpoint
CREATE TABLE `flow_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`updated` text NOT NULL,
	`name` text NOT NULL,
	`flow_id` text NOT NULL,
	`deployment_id` text,
	`work_pool_name` text,
	`work_queue_name` text,
	`parameters` text NOT NULL,
	`job_variables` text NOT NULL,
	`tags` text NOT NULL,
	`state_type` text NOT NULL,
	`state_name` text NOT NULL,
	`state_message` text,
	`state_timestamp` text NOT NULL,
	`expected_start_time` text,
	`next_scheduled_start_time` text,
	`start_time` text,
	`end_time` text,
	`total_run_time` integer NOT NULL,
	`run_count` integer NOT NULL,
	`agent_id` text,
	`infrastructure_pid` text,
	FOREIGN KEY (`flow_id`) REFERENCES `flows`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`deployment_id`) REFERENCES `deployments`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `flow_runs_claim` ON `flow_runs` (`work_pool_name`,`state_type`,`next_scheduled_start_time`);--> statement-breakpoint
CREATE INDEX `flow_runs_deployment` ON `flow_runs` (`deployment_id`);--> statement-breakpoint
CREATE INDEX `flow_runs_created` ON `flow_runs` (`created`);--> statement-breakpoint
CREATE TABLE `flows` (
	`id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`updated` text NOT NULL,
	`name` text NOT NULL,
	`tags` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `flows_name_unique` ON `flows` (`name`);--> statement-breakpoint
CREATE TABLE `logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`flow_run_id` text NOT NULL,
	`task_run_id` text,
	`name` text NOT NULL,
	`level` integer NOT NULL,
	`message` text NOT NULL,
	`timestamp` text NOT NULL,
	FOREIGN KEY (`flow_run_id`) REFERENCES `flow_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `logs_flow_run` ON `logs` (`flow_run_id`,`id`);--> statement-breakpoint
CREATE TABLE `task_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`updated` text NOT NULL,
	`flow_run_id` text NOT NULL,
	`name` text NOT NULL,
	`task_key` text NOT NULL,
	`state_type` text NOT NULL,
	`state_name` text NOT NULL,
	`state_message` text,
	`state_timestamp` text NOT NULL,
	`start_time` text,
	`end_time` text,
	`run_count` integer NOT NULL,
	`history` text NOT NULL,
	FOREIGN KEY (`flow_run_id`) REFERENCES `flow_runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `task_runs_flow_run` ON `task_runs` (`flow_run_id`);--> statement-breakpoint
CREATE TABLE `variables` (
	`id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`updated` text NOT NULL,
	`name` text NOT NULL,
	`value` text,
	`tags` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `variables_name_unique` ON `variables` (`name`);--> statement-breakpoint
CREATE TABLE `work_pools` (
	`id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`updated` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`description` text,
	`is_paused` integer NOT NULL,
	`concurrency_limit` integer,
	`base_job_template` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `work_pools_name_unique` ON `work_pools` (`name`);--> statement-breakpoint
CREATE TABLE `work_queues` (
	`id` text PRIMARY KEY NOT NULL,
	`created` text NOT NULL,
	`updated` text NOT NULL,
	`work_pool_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`priority` integer NOT NULL,
	`concurrency_limit` integer,
	`is_paused` integer NOT NULL,
	FOREIGN KEY (`work_pool_id`) REFERENCES `work_pools`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `work_queues_pool_name` ON `work_queues` (`work_pool_id`,`name`);