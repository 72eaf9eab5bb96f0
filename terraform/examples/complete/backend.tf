# State lives in HCP Terraform (Terraform Cloud): encrypted at rest, versioned, and locked for the
# length of every plan and apply. Set the organization (or TF_CLOUD_ORGANIZATION) and pick the
# workspace with TF_WORKSPACE or `terraform workspace select`; terraform/README.md shows the S3
# backend with state locking for teams without HCP Terraform.
terraform {
  cloud {
    organization = "example-org"

    workspaces {
      tags = ["aurora-snowflake-sync"]
    }
  }
}
