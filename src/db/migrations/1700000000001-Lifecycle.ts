import { Table, TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Citizen credential lifecycle (issue 7): password set date (expiry), registration reference
 * and channel, deregistration date; activation codes (hash only) and the password history.
 * Table API, so one migration serves SQLite and PostgreSQL.
 */
export class Lifecycle1700000000001 implements MigrationInterface {
  name = 'Lifecycle1700000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    const ts = queryRunner.connection.driver.options.type === 'postgres' ? 'timestamptz' : 'datetime';

    await queryRunner.addColumns('citizens', [
      new TableColumn({ name: 'password_set_at', type: ts, isNullable: true }),
      new TableColumn({ name: 'registration_ref', type: 'varchar', length: '32', isNullable: true }),
      new TableColumn({ name: 'registration_channel', type: 'varchar', length: '16', isNullable: true }),
      new TableColumn({ name: 'deregistered_at', type: ts, isNullable: true }),
    ]);
    // Passwords set before this migration count from now (nobody is forced to change at once).
    await queryRunner.query(`UPDATE citizens SET password_set_at = updated_at WHERE password_hash IS NOT NULL`);

    await queryRunner.createTable(
      new Table({
        name: 'activation_codes',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'citizen_id', type: 'varchar', length: '36' },
          { name: 'code_hash', type: 'varchar', length: '64' },
          { name: 'delivery', type: 'varchar', length: '16' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'failed_attempts', type: 'int', default: '0' },
          { name: 'expires_at', type: ts },
          { name: 'created_at', type: ts },
          { name: 'used_at', type: ts, isNullable: true },
        ],
        indices: [new TableIndex({ name: 'IDX_activation_codes_citizen', columnNames: ['citizen_id', 'status'] })],
      }),
    );

    await queryRunner.createTable(
      new Table({
        name: 'password_history',
        columns: [
          { name: 'id', type: 'varchar', length: '36', isPrimary: true },
          { name: 'citizen_id', type: 'varchar', length: '36' },
          { name: 'password_hash', type: 'varchar', length: '255' },
          { name: 'created_at', type: ts },
        ],
        indices: [new TableIndex({ name: 'IDX_password_history_citizen', columnNames: ['citizen_id', 'created_at'] })],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('password_history');
    await queryRunner.dropTable('activation_codes');
    for (const c of ['deregistered_at', 'registration_channel', 'registration_ref', 'password_set_at']) await queryRunner.dropColumn('citizens', c);
  }
}
