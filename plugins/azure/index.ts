import { textField } from "../../core/model/index.ts";
import { definePlugin } from "../../core/plugin/index.ts";
import { pullFromAzure, pushToAzure } from "./steps.ts";

/**
 * Azure Blob Storage: Prefect's prefect-azure code-storage steps (under their names too) and the
 * credentials block they take, with Prefect's field names.
 */
export const azurePlugin = definePlugin({
  name: "azure",
  steps: [pushToAzure, pullFromAzure],
  provides: ["prefect-azure"],
  blockTypes: [
    {
      slug: "azure-blob-storage-credentials",
      name: "Azure Blob Storage Credentials",
      description:
        "Access to Azure Blob Storage (Prefect's AzureBlobStorageCredentials): a connection string, or an account URL with a SAS token",
      fields: {
        connection_string: textField("connection string with AccountName and AccountKey", { secret: true }),
        account_url: textField("account URL with a SAS token (?sv=...&sig=...)", { secret: true }),
        tenant_id: textField("Azure AD tenant (not supported yet)"),
        client_id: textField("Azure AD client (not supported yet)"),
        client_secret: textField("Azure AD client secret (not supported yet)", { secret: true }),
      },
    },
  ],
});
