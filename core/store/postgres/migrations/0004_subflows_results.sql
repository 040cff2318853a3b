CREATE TABLE "flow_run_results" (
	"flow_run_id" text PRIMARY KEY NOT NULL,
	"created" text NOT NULL,
	"bytes" integer NOT NULL,
	"json" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "flow_runs" ADD COLUMN "parent_flow_run_id" text;--> statement-breakpoint
ALTER TABLE "flow_runs" ADD COLUMN "parent_task_run_id" text;--> statement-breakpoint
ALTER TABLE "flow_run_results" ADD CONSTRAINT "flow_run_results_flow_run_id_flow_runs_id_fk" FOREIGN KEY ("flow_run_id") REFERENCES "public"."flow_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "flow_runs_parent" ON "flow_runs" USING btree ("parent_flow_run_id");