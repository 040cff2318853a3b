CREATE TABLE "servers" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"pid" integer NOT NULL,
	"started" text NOT NULL,
	"last_seen" text NOT NULL
);
