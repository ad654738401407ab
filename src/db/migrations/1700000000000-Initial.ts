import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * The first schema, written with the Table API so one migration serves SQLite and PostgreSQL.
 * Only the timestamp type differs: `timestamptz` on PostgreSQL, `datetime` (UTC text) on SQLite.
 */
export class Initial1700000000000 implements MigrationInterface {
  name = 'Initial1700000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const ts = queryRunner.connection.driver.options.type === 'postgres' ? 'timestamptz' : 'datetime';

    await queryRunner.createTable(
      new Table({
        name: 'citizens',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'dni', type: 'varchar', length: '16' },
          { name: 'given_name', type: 'varchar', length: '255' },
          { name: 'first_surname', type: 'varchar', length: '255' },
          { name: 'second_surname', type: 'varchar', length: '255', isNullable: true },
          { name: 'date_of_birth', type: 'varchar', length: '10' },
          { name: 'mobile', type: 'varchar', length: '32' },
          { name: 'email', type: 'varchar', length: '320', isNullable: true },
          { name: 'registration_level', type: 'varchar', length: '16' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'dni_validity_date', type: 'varchar', length: '10', isNullable: true },
          { name: 'failed_password_attempts', type: 'int', default: '0' },
          { name: 'password_hash', type: 'varchar', length: '255', isNullable: true },
          { name: 'locked_at', type: ts, isNullable: true },
          { name: 'created_at', type: ts },
          { name: 'updated_at', type: ts },
        ],
        indices: [new TableIndex({ name: 'UQ_citizens_dni', columnNames: ['dni'], isUnique: true })],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'service_providers',
        columns: [
          { name: 'entity_id', type: 'varchar', length: '1024', isPrimary: true },
          { name: 'display_name', type: 'varchar', length: '1024', isNullable: true },
          { name: 'metadata_xml', type: 'text' },
          { name: 'policy', type: 'text' },
          { name: 'source', type: 'varchar', length: '255' },
          { name: 'enabled', type: 'boolean' },
          { name: 'created_at', type: ts },
          { name: 'updated_at', type: ts },
        ],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'audit_events',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'at', type: ts },
          { name: 'type', type: 'varchar', length: '64' },
          { name: 'actor', type: 'varchar', length: '255', isNullable: true },
          { name: 'citizen_id', type: 'varchar', length: '36', isNullable: true },
          { name: 'request_id', type: 'varchar', length: '512', isNullable: true },
          { name: 'detail', type: 'text' },
        ],
        indices: [
          new TableIndex({ name: 'IDX_audit_events_at', columnNames: ['at'] }),
          new TableIndex({ name: 'IDX_audit_events_citizen_at', columnNames: ['citizen_id', 'at'] }),
          new TableIndex({ name: 'IDX_audit_events_type_at', columnNames: ['type', 'at'] }),
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('audit_events');
    await queryRunner.dropTable('service_providers');
    await queryRunner.dropTable('citizens');
  }
}
