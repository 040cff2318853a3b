CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"created" text NOT NULL,
	"name" text NOT NULL,
	"scope" text NOT NULL,
	"work_pool_name" text,
	"flow_run_id" text,
	"hash" text NOT NULL,
	"expires" text,
	"revoked" text
);
--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_hash" ON "api_tokens" USING btree ("hash");--> statement-breakpoint
CREATE INDEX "api_tokens_name" ON "api_tokens" USING btree ("name");