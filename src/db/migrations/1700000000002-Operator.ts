import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/** Admin API keys, metadata sources with refresh status, and the trust-list version row. */
export class Operator1700000000002 implements MigrationInterface {
  name = 'Operator1700000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    const ts = queryRunner.connection.driver.options.type === 'postgres' ? 'timestamptz' : 'datetime';
    await queryRunner.createTable(
      new Table({
        name: 'admin_tokens',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'name', type: 'varchar', length: '255' },
          { name: 'role', type: 'varchar', length: '16' },
          { name: 'token_hash', type: 'varchar', length: '64' },
          { name: 'created_at', type: ts },
          { name: 'revoked_at', type: ts, isNullable: true },
        ],
        indices: [new TableIndex({ name: 'UQ_admin_tokens_hash', columnNames: ['token_hash'], isUnique: true })],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'metadata_sources',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'kind', type: 'varchar', length: '16' },
          { name: 'url', type: 'varchar', length: '2048' },
          { name: 'entity_id', type: 'varchar', length: '1024', isNullable: true },
          { name: 'pinned_cert_pem', type: 'text', isNullable: true },
          { name: 'policy', type: 'text' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'last_error', type: 'text', isNullable: true },
          { name: 'last_attempt_at', type: ts, isNullable: true },
          { name: 'last_success_at', type: ts, isNullable: true },
          { name: 'valid_until', type: ts, isNullable: true },
          { name: 'created_at', type: ts },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'trust_version',
        columns: [
          { name: 'id', type: 'int', isPrimary: true },
          { name: 'version', type: 'int' },
        ],
      }),
    );
    await queryRunner.query('INSERT INTO trust_version (id, version) VALUES (1, 0)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('trust_version');
    await queryRunner.dropTable('metadata_sources');
    await queryRunner.dropTable('admin_tokens');
  }
}
