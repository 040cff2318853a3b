DROP INDEX "flow_runs_deployment";--> statement-breakpoint
CREATE INDEX "flow_runs_state" ON "flow_runs" USING btree ("state_type","created","id");--> statement-breakpoint
CREATE INDEX "flow_runs_deployment" ON "flow_runs" USING btree ("deployment_id","created","id");