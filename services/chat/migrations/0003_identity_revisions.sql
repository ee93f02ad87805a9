ALTER TABLE "chat"."users" ALTER COLUMN "display_name" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."users" ALTER COLUMN "role" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."blocks" ADD COLUMN "removed" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."blocks" ADD COLUMN "revision" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."users" ADD COLUMN "deleted" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "chat"."users" ADD COLUMN "revision" bigint DEFAULT 0 NOT NULL;