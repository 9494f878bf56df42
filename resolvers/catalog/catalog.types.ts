import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { CatalogStatus, type Catalog } from "../../entities/catalog/catalog.entity.js";
import { ConnectionType } from "../common/relay.js";

registerEnumType(CatalogStatus, {
  name: "CatalogStatus",
  description: "Connectors load only into ACTIVE catalogs.",
});

@ObjectType("Catalog", { simpleResolvers: true, description: "A lakehouse catalog of the caller's tenant." })
export class CatalogType {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => CatalogStatus)
  status!: CatalogStatus;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;
}

export const CatalogConnection = ConnectionType("Catalog", CatalogType);

export function toCatalogType(catalog: Catalog): CatalogType {
  return {
    id: catalog.id,
    name: catalog.name,
    status: catalog.status,
    createdAt: catalog.createdAt,
    updatedAt: catalog.updatedAt,
  };
}
