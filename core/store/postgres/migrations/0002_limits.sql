CREATE TABLE "concurrency_limits" (
	"id" text PRIMARY KEY NOT NULL,
	"created" text NOT NULL,
	"updated" text NOT NULL,
	"tag" text NOT NULL,
	"concurrency_limit" integer NOT NULL,
	CONSTRAINT "concurrency_limits_tag_unique" UNIQUE("tag")
);
--> statement-breakpoint
ALTER TABLE "deployment_schedules" ADD COLUMN "max_active_runs" integer;--> statement-breakpoint
ALTER TABLE "deployment_schedules" ADD COLUMN "catchup" boolean;